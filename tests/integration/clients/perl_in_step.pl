#!/usr/bin/perl
# Debian's Asterisk::Manager (libasterisk-agi-perl) takes the next message as the answer to
# what it sent, and sends no ActionID. Log in, send PJSIPNotify, Ping and Logoff, and print
# each answer's Response with its Message or Ping on one line, so the test sees whether the
# client stayed in step.
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
                               Variable => 'Event=check-sync');
print "notify: $notify{Response} $notify{Message}\n";
sleep 1;    # the phone has answered: any result event would be waiting now
my %ping = $ami->sendcommand(Action => 'Ping');
print "ping: $ping{Response} $ping{Ping}\n";
print "logoff: ", ($ami->disconnect() ? "Goodbye" : "out of step"), "\n";
