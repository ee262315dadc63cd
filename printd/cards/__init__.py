"""Card pictures: checks on submitted images and the pictures printd draws itself."""
