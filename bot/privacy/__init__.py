"""The member's privacy controls: /mydata and /forgetme."""
