# fish-01: a chatty config.fish (fish reads it for every shell, commands too):
# a line on stderr, then text on stdout without a trailing newline.
echo 'config.fish: fish-01 says hello on stderr' >&2
echo -n 'config.fish: fish-01 says hello on stdout'
