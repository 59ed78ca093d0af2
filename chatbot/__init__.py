"""A rule-based expert-system chatbot about Botox and dermal fillers.

    from chatbot import Chatbot
    bot = Chatbot()                 # loads the knowledge base once
    session = bot.session()         # an independent conversation
    reply = session.ask("How long does Botox take?")
    reply.text, reply.sources       # the answer and the inventory IDs it rests on
"""

__all__ = ["Chatbot", "Reply", "Session"]


def __getattr__(name):
    # Imported on first use, so `python -m chatbot kb` does not build the engine.
    if name in __all__:
        from chatbot import session
        return getattr(session, name)
    raise AttributeError(f"module 'chatbot' has no attribute {name!r}")
