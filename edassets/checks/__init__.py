"""Asset checks and the validation gate."""
