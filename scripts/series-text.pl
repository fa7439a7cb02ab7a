#!/usr/bin/perl
# SPDX-License-Identifier: GPL-2.0
#
# The text work of scripts/series.sh: each subcommand reads a file (or
# stdin) and writes the result to stdout.
#
#   stub-tracepoints HEADER [NAME...]
#       a header of no-op trace_<event>() stubs for the TRACE_EVENT and
#       DEFINE_EVENT events of HEADER, with its plain #defines; NAMEs are
#       the events whose trace_<event>_enabled() the code calls
#   trim FILE para|line|word ARG
#       FILE without the paragraph with a line matching ARG (an extended
#       regex), the lines matching ARG, or the word ARG
#   maintainers FILE SECTION +PATH|-PATH
#       MAINTAINERS with "F: PATH" added to or removed from SECTION, its
#       F: lines kept in order
#   kselftest-target FILE NAME
#       tools/testing/selftests/Makefile with "TARGETS += NAME" in order
#   readme-bench README
#       the benchmark of README's "Latest run:" as plain text for a mail
#   readme-tests README TEST-TIMES
#       the test results README records, and scripts/test-times' totals
#   headers PATCH TO CC MSGID [PARENT]
#       PATCH with To:/Cc: (comma-separated lists, folded), its
#       Message-Id replaced by MSGID and In-Reply-To/References by PARENT

use strict;
use warnings;

sub slurp {
	my ($f) = @_;
	open(my $fh, '<', $f) or die "series-text.pl: $f: $!\n";
	local $/;
	my $t = <$fh>;
	close($fh);
	return $t;
}

# the width of a line's beginning, tabs at 8
sub width {
	my ($s) = @_;
	my $w = 0;
	for my $c (split //, $s) {
		$w = $c eq "\t" ? ($w + 8) & ~7 : $w + 1;
	}
	return $w;
}

# "head(" then the comma-separated @args, wrapped at 80 columns with the
# continuation lines aligned to the parenthesis
sub wrap_call {
	my ($head, @args) = @_;
	my $col = width($head);
	my $indent = ("\t" x int($col / 8)) . (' ' x ($col % 8));
	my $out = $head;
	my $line = $head;
	for my $i (0 .. $#args) {
		my $a = $args[$i] . ($i < $#args ? ',' : ')');
		if ($line ne $head && width($line . ' ' . $a) > 80) {
			$out .= "\n" . $indent . $a;
			$line = $indent . $a;
		} else {
			my $sep = $line eq $head ? '' : ' ';
			$out .= $sep . $a;
			$line .= $sep . $a;
		}
	}
	return $out;
}

sub stub_tracepoints {
	my ($file, @enabled) = @_;
	my $src = slurp($file);
	my %want = map { $_ => 1 } @enabled;
	my (@events, $spdx, $guard, @defines);

	($spdx) = $src =~ m{^(/\* SPDX-License-Identifier: [^*]*\*/)\n};
	die "series-text.pl: $file: no SPDX line\n" unless $spdx;
	($guard) = $src =~ /^#define (_\w+_H)$/m;
	die "series-text.pl: $file: no include guard\n" unless $guard;

	# the plain (one-line) #defines of the part read only once, and the
	# one-line comments above them: constants the callers use
	if ($src =~ /^#ifndef TRACE_HEADER_MULTI_READ\n(.*?)^#endif/ms) {
		my @lines = split /\n/, $1;
		my $cont = 0;
		for my $l (@lines) {
			if ($cont) {
				$cont = $l =~ /\\$/;
				next;
			}
			if ($l =~ /\\$/) {
				$cont = 1;
				next;
			}
			if ($l =~ /^#define \w+\s/ || $l =~ m{^/\*.*\*/$} || $l eq '') {
				push @defines, $l;
			}
		}
		my $t = join("\n", @defines);
		$t =~ s/\n{3,}/\n\n/g;
		$t =~ s/^\n+|\n+$//g;
		@defines = $t eq '' ? () : ($t);
	}

	while ($src =~ /\b(?:TRACE_EVENT\(\s*(\w+)|DEFINE_EVENT\(\s*\w+\s*,\s*(\w+))\s*,\s*TP_PROTO\(/g) {
		my $name = defined $1 ? $1 : $2;
		my $start = pos($src);
		my ($depth, $i) = (1, $start);
		while ($depth > 0) {
			die "series-text.pl: $file: unbalanced TP_PROTO of $name\n"
				if $i >= length($src);
			my $c = substr($src, $i++, 1);
			$depth++ if $c eq '(';
			$depth-- if $c eq ')';
		}
		my $proto = substr($src, $start, $i - 1 - $start);
		$proto =~ s/\s+/ /g;
		$proto =~ s/^ | $//g;
		die "series-text.pl: $file: $name: cannot stub a prototype with parentheses\n"
			if $proto =~ /[()]/;
		push @events, [$name, split(/\s*,\s*/, $proto)];
	}
	die "series-text.pl: $file: no events\n" unless @events;
	my %have = map { $_->[0] => 1 } @events;
	for my $n (@enabled) {
		die "series-text.pl: $file: no event $n\n" unless $have{$n};
	}

	my $out = "$spdx\n";
	$out .= <<'EOF';
/*
 * ublk tracepoints, stubbed: every trace_<event>() call of the driver
 * compiles to nothing until the patch that adds the tracepoints replaces
 * this header with their definitions (and adds trace.c).
 */
EOF
	$out .= "#ifndef $guard\n#define $guard\n\n";
	$out .= "#include <linux/blk-mq.h>\n#include <linux/types.h>\n\n";
	$out .= "#include \"ublk.h\"\n\n";
	$out .= "$_\n\n" for @defines;
	for my $e (@events) {
		my ($name, @args) = @$e;
		$out .= wrap_call("static inline void trace_$name(", @args) . "\n{\n}\n\n";
		next unless $want{$name};
		$out .= "static inline bool trace_${name}_enabled(void)\n{\n\treturn false;\n}\n\n";
	}
	$out .= "#endif\n";
	print $out;
}

sub trim {
	my ($file, $kind, $arg) = @_;
	my $t = slurp($file);
	my $before = $t;

	if ($kind eq 'line') {
		$t = join('', grep { !/$arg/ } split(/^/m, $t));
	} elsif ($kind eq 'word') {
		$t =~ s/(?<=\S)[ \t]+\Q$arg\E(?=[ \t\\]|$)//mg;
		$t =~ s/^([ \t]*)\Q$arg\E[ \t]+/$1/mg;
	} elsif ($kind eq 'para') {
		my @parts = split(/(\n\n+)/, $t);
		my $i = 0;
		while ($i < @parts) {
			if (grep { /$arg/ } split(/\n/, $parts[$i])) {
				if ($i + 1 < @parts) {
					splice(@parts, $i, 2);
				} elsif ($i > 0) {
					splice(@parts, $i - 1, 2);
					$parts[-1] .= "\n" if @parts;
				} else {
					@parts = ();
				}
				next;
			}
			$i += 2;
		}
		$t = join('', @parts);
	} else {
		die "series-text.pl: trim: unknown kind '$kind'\n";
	}
	die "series-text.pl: trim $kind '$arg': nothing in $file\n" if $t eq $before;
	print $t;
}

sub maintainers {
	my ($file, $section, $op) = @_;
	my @lines = split(/^/m, slurp($file));
	my ($start, $end);
	for my $i (0 .. $#lines) {
		if (!defined $start) {
			$start = $i if $lines[$i] eq "$section\n";
		} elsif ($lines[$i] eq "\n") {
			$end = $i;
			last;
		}
	}
	die "series-text.pl: no section '$section' in $file\n" unless defined $end;
	my @body = @lines[$start + 1 .. $end - 1];
	my ($sign, $path) = $op =~ /^([+-])(.+)$/ or die "series-text.pl: maintainers: bad '$op'\n";
	my $entry = "F:\t$path\n";
	if ($sign eq '-') {
		my $n = @body;
		@body = grep { $_ ne $entry } @body;
		die "series-text.pl: no '$path' in '$section'\n" if @body == $n;
	} else {
		die "series-text.pl: '$path' already in '$section'\n" if grep { $_ eq $entry } @body;
		# after the last F: line that sorts before it
		my $at;
		for my $i (0 .. $#body) {
			next unless $body[$i] =~ /^F:\t(.*)$/;
			$at = $i + 1 if lc($1) lt lc($path);
			$at = $i unless defined $at;
		}
		$at = scalar(@body) unless defined $at;
		splice(@body, $at, 0, $entry);
	}
	print @lines[0 .. $start], @body, @lines[$end .. $#lines];
}

sub kselftest_target {
	my ($file, $name) = @_;
	my @lines = split(/^/m, slurp($file));
	my ($at, $prev);
	for my $i (0 .. $#lines) {
		next unless $lines[$i] =~ /^TARGETS \+= (\S+)$/;
		die "series-text.pl: $name already in $file\n" if $1 eq $name;
		if (defined $prev && $prev lt $name && $1 gt $name) {
			$at = $i;
			last;
		}
		$prev = $1;
		$at = $i + 1;
	}
	die "series-text.pl: no TARGETS in $file\n" unless defined $at;
	splice(@lines, $at, 0, "TARGETS += $name\n");
	print @lines;
}

# paragraphs (blank-line separated) of a text
sub paragraphs {
	my ($t) = @_;
	return split(/\n\s*\n/, $t);
}

sub reflow {
	my ($t, $width) = @_;
	my @words = split(' ', $t);
	my ($out, $line) = ('', '');
	for my $w (@words) {
		if ($line ne '' && length($line) + 1 + length($w) > $width) {
			$out .= "$line\n";
			$line = $w;
		} else {
			$line = $line eq '' ? $w : "$line $w";
		}
	}
	$out .= "$line\n" if $line ne '';
	return $out;
}

# a markdown table as plain aligned columns, without the columns named in
# %$drop
sub md_table {
	my ($rows, $drop) = @_;
	my (@cells, @keep, @num, @w);
	for my $r (@$rows) {
		next if $r =~ /^\|[-:| ]+\|$/;
		my @c = split(/\s*\|\s*/, $r);
		shift @c;
		push @cells, \@c;
	}
	for my $j (0 .. $#{$cells[0]}) {
		push @keep, $j unless $drop->{$cells[0][$j]};
	}
	for my $j (@keep) {
		$w[$j] = 0;
		$num[$j] = 1;
		for my $i (0 .. $#cells) {
			my $c = $cells[$i][$j];
			$w[$j] = length($c) if length($c) > $w[$j];
			$num[$j] = 0 if $i > 0 && $c !~ /^([0-9.]+|n\/a)$/;
		}
	}
	my $out = '';
	for my $c (@cells) {
		my @f = map { $num[$_] ? sprintf('%*s', $w[$_], $c->[$_])
				       : sprintf('%-*s', $w[$_], $c->[$_]) } @keep;
		(my $l = join(' ', @f)) =~ s/\s+$//;
		$out .= "  $l\n";
	}
	return $out;
}

sub readme_bench {
	my ($readme) = @_;
	my $t = slurp($readme);
	my ($from) = $t =~ /^(Latest run:.*)/ms or die "series-text.pl: no 'Latest run:' in $readme\n";
	my @p = paragraphs($from);
	my $out = reflow($p[0], 72) . "\n";
	my @table = grep { /^\|/ } split(/\n/, $p[1]);
	die "series-text.pl: no table after 'Latest run:' in $readme\n" unless @table;
	$out .= md_table(\@table, { 'ours/null_blk' => 1, 'stock/null_blk' => 1 });
	$out .= "\n(ours/null_blk and stock/null_blk, the README's other two columns,\nleft out here)\n";
	for my $q (@p[2 .. $#p]) {
		last if $q =~ /^\|/;
		next unless $q =~ /^(Median IOPS|Loop target|Read it so)/;
		$out .= "\n" . reflow($q, 72);
	}
	print $out;
}

sub readme_tests {
	my ($readme, $times) = @_;
	my $t = slurp($readme);
	my $out = '';

	# the timings block of "The two commands"
	if ($t =~ /^(  make check, cold.*?)\n\n(\(.*?\))\n/ms) {
		my ($block, $note) = ($1, $2);
		$out .= "$block\n" . reflow($note, 72) . "\n";
	}
	for my $p (paragraphs($t)) {
		if ($p =~ /^Last "make (check-distro|stress)"/ ||
		    ($p =~ /^20\d\d-\d\d-\d\d, main / && $p =~ /passed/)) {
			$p =~ s/^/The suite against 6.12's own driver, / if $p =~ /^20/;
			$out .= reflow($p, 72) . "\n";
		}
	}
	my ($n, $sum, $src) = (0, 0, '');
	for my $l (split(/\n/, slurp($times))) {
		$src = $1 if $l =~ /^# From: (.*?)\.?$/;
		next unless $l =~ /^(test_\S+)\s+(\d+)$/;
		$n++;
		$sum += $2;
	}
	$out .= reflow(sprintf("The time of each kselftest, scripts/test-times (%s): " .
			       "%d tests, %d min %d s in all, one after another.",
			       $src || 'the last make check', $n, int($sum / 60), $sum % 60), 72);
	print $out;
}

# fold an address list into header lines of at most 78 characters
sub fold {
	my ($name, $list) = @_;
	my @a = grep { $_ ne '' } split(/\s*,\s*/, $list);
	return '' unless @a;
	my $out = "$name: ";
	my $line = $out;
	for my $i (0 .. $#a) {
		my $item = $a[$i] . ($i < $#a ? ',' : '');
		if ($line ne "$name: " && length($line) + 1 + length($item) > 78) {
			$out .= "\n $item";
			$line = " $item";
		} else {
			my $sep = $line eq "$name: " ? '' : ' ';
			$out .= $sep . $item;
			$line .= $sep . $item;
		}
	}
	return "$out\n";
}

sub headers {
	my ($file, $to, $cc, $msgid, $parent) = @_;
	my $t = slurp($file);
	my ($head, $body) = $t =~ /^(.*?\n)(\n.*)$/s or die "series-text.pl: $file: no header\n";
	# unfold, edit, keep the order git format-patch wrote
	$head =~ s/\n[ \t]+/ /g;
	my @h = split(/\n/, $head);
	my @out;
	for my $l (@h) {
		if ($l =~ /^Message-Id:/i) {
			push @out, "Message-Id: <$msgid>";
		} elsif ($l =~ /^(In-Reply-To|References):/i) {
			push @out, "$1: <$parent>" if defined $parent;
		} elsif ($l =~ /^(To|Cc):/i) {
			next;
		} else {
			push @out, $l;
		}
		if ($l =~ /^Subject:/) {
			# where git format-patch --to/--cc would put them
			$out[-1] = fold_subject($out[-1]);
		}
	}
	my $addr = fold('To', $to) . fold('Cc', $cc);
	chomp $addr;
	my @final;
	for my $l (@out) {
		push @final, $l;
		push @final, $addr if $l =~ /^Subject:/ && $addr ne '';
	}
	print join("\n", @final), "\n", $body;
}

# a Subject: line folded as git format-patch folds it
sub fold_subject {
	my ($l) = @_;
	return $l if length($l) <= 78;
	my @w = split(/ /, $l);
	my ($out, $line) = ('', '');
	for my $w (@w) {
		if ($line ne '' && length($line) + 1 + length($w) > 78) {
			$out .= "$line\n";
			$line = " $w";
		} else {
			$line = $line eq '' ? $w : "$line $w";
		}
	}
	return $out . $line;
}

my $cmd = shift @ARGV // '';
if ($cmd eq 'stub-tracepoints' && @ARGV >= 1) {
	stub_tracepoints(@ARGV);
} elsif ($cmd eq 'trim' && @ARGV == 3) {
	trim(@ARGV);
} elsif ($cmd eq 'maintainers' && @ARGV == 3) {
	maintainers(@ARGV);
} elsif ($cmd eq 'kselftest-target' && @ARGV == 2) {
	kselftest_target(@ARGV);
} elsif ($cmd eq 'readme-bench' && @ARGV == 1) {
	readme_bench(@ARGV);
} elsif ($cmd eq 'readme-tests' && @ARGV == 2) {
	readme_tests(@ARGV);
} elsif ($cmd eq 'headers' && (@ARGV == 4 || @ARGV == 5)) {
	headers(@ARGV);
} else {
	die "usage: series-text.pl {stub-tracepoints|trim|maintainers|kselftest-target|" .
	    "readme-bench|readme-tests|headers} ... (see the top of the file)\n";
}
