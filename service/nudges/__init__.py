"""Nudges: reminder emails, the patient's reminder settings and private calendar feed."""
