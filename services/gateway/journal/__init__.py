"""The job journal: each card's steps, written before they are taken, and the rules between them."""
