"""What runs against the built warehouse over the Thrift Server: the clients' report
and the tables' housekeeping."""
