"""Uploaded files, stored once per account by the SHA-256 of their bytes; events carry a reference."""
