"""Job notifications to other systems: the outbox, webhook delivery and signatures."""
