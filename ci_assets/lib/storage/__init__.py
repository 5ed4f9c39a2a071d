"""Object stores, IO managers, the operational database and the SQL runner."""
