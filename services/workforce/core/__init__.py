"""What every service shares: configuration, ids, logging, metrics, the gRPC server, the channel, the LLM client."""
