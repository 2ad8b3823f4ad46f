"""Known-answer test vectors (messages.json) and the script that generates them."""
