"""ESCO skills: the taxonomy (`taxonomy`), linking courses to skills (`linking`) and skill queries
(`requests`)."""
