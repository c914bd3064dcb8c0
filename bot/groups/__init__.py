"""Groups and roles: registering a group, its settings, facilitators and moderators, /help."""
