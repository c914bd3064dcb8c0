"""The platform-neutral vocabulary every capability and adapter speaks."""
