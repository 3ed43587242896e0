"""Module 2 (API Integration) exercises: your code goes in the modules of this package, one per exercise
(the list is grader/course.py)."""
