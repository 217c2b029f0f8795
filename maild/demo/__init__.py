"""``maild demo``: maild at work on a throwaway mail server, for a newcomer's first look."""
