"""Daily check-ins: group and private prompts, answers, the low-mood concern, reports."""
