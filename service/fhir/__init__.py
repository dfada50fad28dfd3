"""FHIR R4: an episode exported as a Bundle, a referral Bundle imported."""
