"""The Experta knowledge base: the article's facts by inventory ID, the fact types, the rules."""
from chatbot.knowledge import inventory

__all__ = ["inventory"]
