"""State changes of counsellor cases. ``flags``: what a screening flag does to a student's case (in
the submit's transaction); ``work``: what counsellors do (acknowledge, contact, plan, move, close);
``escalation``: the timers (acknowledgement, first contact, missed follow-ups)."""
