"""``moodbox doctor``: checks of the installation and of the devices, one line each."""
