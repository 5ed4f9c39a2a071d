"""Real servers for the test suite: how to start them and how to tell they are up."""
