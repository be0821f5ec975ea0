"""Regions, schools, classes, students, hospitals, staff memberships and the roster import."""
