"""What people read: the dashboard's charts and pages, and the review console."""
