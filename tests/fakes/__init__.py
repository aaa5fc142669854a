"""Fake outside services the tests run on 127.0.0.1, speaking the real HTTP protocols."""
