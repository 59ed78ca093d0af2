"""`python -m chatbot`: see chatbot.cli."""
from chatbot.cli import run

run()
