"""Building blocks shared by the providers that translate to and from OpenAI's format."""
