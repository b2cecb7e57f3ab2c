"""A live view of the playground's consumer groups, read from the broker's admin API."""
