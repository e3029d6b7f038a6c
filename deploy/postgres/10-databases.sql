-- One database per service (they never read each other's tables). Runs once, on an empty data volume.
CREATE DATABASE ektp_request;
CREATE DATABASE ektp_inventory;
CREATE DATABASE ektp_gateway;
