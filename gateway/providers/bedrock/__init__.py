"""AWS Bedrock Runtime: SigV4-signed Converse (OpenAI chat, Anthropic Messages) and
InvokeModel (embeddings), with binary event-stream answers translated as they arrive.

Modules: ``provider`` (the declaration the registry holds: URLs, operations, which
translation applies), ``credentials`` (the request's keys or the AWS chain) and
``lifecycle`` (the chain's cleanup context), ``signing`` (SigV4), ``blocks`` (pieces
both client formats share), ``converse_request`` / ``converse_response`` /
``converse_stream`` (OpenAI chat), ``messages`` / ``messages_stream`` (Anthropic
Messages), ``embeddings``, ``errors``.
"""
