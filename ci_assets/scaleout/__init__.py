"""Running the platform's steps on other machines: the dagster-celery executor over RabbitMQ."""
