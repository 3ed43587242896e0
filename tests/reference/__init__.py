"""Module 2 (API Integration) exercises: your code goes in the seven modules of this package."""
