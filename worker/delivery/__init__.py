"""Delivery backends: one ``send(message) -> DeliveryOutcome`` shape for all."""
