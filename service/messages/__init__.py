"""Secure messages between a patient and the clinic staff of their episode."""
