"""The course's lab flows (Machine Learning Specialization, Course 2), one test module per lab."""
