"""`python -m chatbot`: see chatbot.cli."""
import gc

gc.disable()   # before the imports too: see chatbot.cli.run

from chatbot.cli import run  # noqa: E402

run()
