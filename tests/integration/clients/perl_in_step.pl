#!/usr/bin/perl
# Debian's Asterisk::Manager (libasterisk-agi-perl) takes the next message as the answer to
# what it sent. Log in, send PJSIPNotify, Ping and Logoff, and print each answer's Response
# (and Message, Ping, ActionID) on one line, so the test sees whether the client stayed in step.
use strict;
use warnings;
use Asterisk::Manager;

my ($port, $user, $secret, $endpoint) = @ARGV;
my $ami = Asterisk::Manager->new();
$ami->host('127.0.0.1');
$ami->port($port);
$ami->user($user);
$ami->secret($secret);
$ami->connect() or die "connect failed: " . ($ami->error() // '') . "\n";

my %notify = $ami->sendcommand(Action => 'PJSIPNotify', Endpoint => $endpoint,
                               Variable => 'Event=check-sync', ActionID => 'n1');
print "notify: $notify{Response} $notify{ActionID}\n";
sleep 1;    # the phone has answered: any result event would be waiting now
my %ping = $ami->sendcommand(Action => 'Ping', ActionID => 'p1');
print "ping: $ping{Response} $ping{ActionID}\n";
print "logoff: ", ($ami->disconnect() ? "Goodbye" : "out of step"), "\n";
