"""The command line: argparse front ends over the same objects the GUI uses. Never imports segview.ui."""
