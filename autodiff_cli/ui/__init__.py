"""What people see: terminal output, plots."""
