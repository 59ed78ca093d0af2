"""The answer templates (Jinja2), one per kind of answer; installed as chatbot.responses."""
