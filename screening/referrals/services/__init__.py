"""State changes of agreements and referrals: ``agreements`` (the school–hospital agreement and the
consent to share), ``referrals`` (creating, sending and every later move, on both sides)."""
