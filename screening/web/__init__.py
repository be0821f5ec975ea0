"""Server-rendered pages for students, counsellors, school admins, liaisons and analysts."""
