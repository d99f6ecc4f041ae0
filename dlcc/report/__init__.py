"""Everything that draws for people: Rich progress bars and tables, matplotlib plots."""
