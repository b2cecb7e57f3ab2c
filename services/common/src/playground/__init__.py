"""Code both services share: settings, logging, the transaction model and Kafka clients."""
