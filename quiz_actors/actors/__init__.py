"""The actors: hub (directory and registry), one room actor per room, one connection actor per socket."""
