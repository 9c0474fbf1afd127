"""Teams bot adapter: botbuilder activity handling and Adaptive Card builders (the only place botbuilder is used)."""
