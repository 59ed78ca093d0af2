"""`python -m chatbot`: see chatbot.cli."""
import sys

from chatbot.cli import main

sys.exit(main())
