"""The HTTP API of the RaDis service (FastAPI): OpenAI's files and fine-tuning endpoints, plus extensions.

Build the app with :func:`api.main.create_app`; this package never imports torch, transformers or peft.
"""
