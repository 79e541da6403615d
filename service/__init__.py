"""alice-report-ingestor: Alice Onboarding reports from Kafka events into PostgreSQL and Kafka."""
