"""AWS Bedrock Runtime: SigV4-signed Converse (chat, Anthropic Messages) and InvokeModel
(embeddings), with binary event-stream responses translated as they arrive.

Modules: ``credentials`` (request keys or the AWS chain), ``signing`` (SigV4),
``converse_request`` / ``converse_response`` / ``converse_stream`` (OpenAI chat),
``messages`` / ``messages_stream`` (Anthropic Messages), ``embeddings``, ``errors``,
``provider`` (the declaration the registry holds).

Kept free of imports so that ``gateway.appkeys`` can name the credential chain's type
without pulling the provider (and the app keys) in a circle.
"""
